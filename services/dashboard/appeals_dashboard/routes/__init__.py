"""The dashboard's routes, one module per page; `mount.py` puts them under /dashboard."""
