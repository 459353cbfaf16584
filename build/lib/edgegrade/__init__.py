"""edgegrade: embryo fragmentation grading at the edge (AttnRegDeepLab, arXiv 2511.18454)."""

__version__ = "0.1.0"
