"""Schools, their users, check-ins and check-outs, and fever alerts."""
