"""What analysts and admins read: presence rules, daily rollups, school and breakout reports."""
