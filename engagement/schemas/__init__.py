"""marshmallow schemas: request and response shapes. No database access here."""
