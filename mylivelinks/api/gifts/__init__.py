"""The gift catalog and sending gifts."""
