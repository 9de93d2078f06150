"""Request and response schemas, one module per resource (STYLE rule 3)."""
