"""PostgreSQL: typed models, the async engine, and the repositories that own all SQL."""
