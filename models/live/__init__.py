"""The live side: the attendance desk (one open session per connection) and who is in each room."""
