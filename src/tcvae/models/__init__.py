"""tcvae.models"""
