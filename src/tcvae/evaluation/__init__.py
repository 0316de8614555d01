"""tcvae.evaluation"""
