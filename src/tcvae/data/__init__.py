"""tcvae.data"""
