"""The lab's review of a run: its embryos over time (runs), the report (report, page, plots)
and the embryologists' decisions in a hash-chained audit log (audit). Core layer: it reads
what `watch` and `grade` wrote and never imports the runtime; matplotlib only for the plots."""
