"""`python -m config`: README's settings table, made from the settings' declarations."""

from config.settings import settings_table

print(settings_table())  # noqa: T201 - this command's output is the table
