"""The bottom package: the codec, the error catalog, Redis utilities and the loop helper.

It imports nothing of ours; every other package may import it.
"""
