"""Repositories: typed async functions taking the session first; all SQL lives here."""
