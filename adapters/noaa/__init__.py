"""NOAA Climate Data Online adapter: the CDO v2 client and the station history the weather scan reads."""
