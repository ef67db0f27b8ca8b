"""File input/output: the CDF engine, CDF writing, netCDF and JSON-headed ASCII."""
