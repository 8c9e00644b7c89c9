"""Domain logic. Services take a session and plain values, flush (never commit) and raise
``engagement.errors.DomainError`` subclasses; they know nothing of HTTP."""
