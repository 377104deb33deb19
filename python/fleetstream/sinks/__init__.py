"""Sinks into databases with exactly-once effect (rows and the offsets that produced them in one transaction)."""

from fleetstream.sinks.exactly_once import Claim, ExactlyOnceSink, ReadModel, WriteResult

__all__ = ["Claim", "ExactlyOnceSink", "ReadModel", "WriteResult"]
