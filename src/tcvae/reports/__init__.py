"""tcvae.reports"""
