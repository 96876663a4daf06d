"""Work spread over processes and machines with Ray (``neurorl compare/sweep --workers``)."""
