"""tcvae.objectives"""
