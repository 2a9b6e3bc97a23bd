"""The pygame labeling window (imports preference only)."""
