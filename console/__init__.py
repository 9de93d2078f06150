"""The admin console (Textual); it reaches the system only through the web admin API."""
