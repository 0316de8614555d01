"""tcvae.experiments"""
