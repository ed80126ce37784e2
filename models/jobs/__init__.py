"""Jobs over the whole record, run from the command line or on a schedule: retention, demo seed."""
