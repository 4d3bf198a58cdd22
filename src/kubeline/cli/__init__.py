"""The kubeline command line; the only code that prints."""
