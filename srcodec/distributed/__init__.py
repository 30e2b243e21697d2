"""srcodec beyond one process: Dask arrays of frames restored block by block (daskarray.py),
many inputs on a Dask cluster (cluster.py), low-resolution frames in Zarr stores (zarrstore.py)
coded by srcodec's codecs for numcodecs and Zarr (zarrcodecs.py). Needs ``srcodec[parallel]``.
"""
