"""tcvae.training"""
