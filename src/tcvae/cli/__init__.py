"""tcvae.cli"""
