"""Batch pipeline of a Nordic debt-collection agency: creditor files in, collection cases out."""
