"""Accounts: tokens, sessions, password resets, stream tickets."""
