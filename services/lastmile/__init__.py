"""lastmile: parcel-tracking and last-mile delivery-quality monitor (快递进村)."""

__version__ = "0.1.0"
