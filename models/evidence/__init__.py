"""The record as evidence: corrections with an audit trail."""
