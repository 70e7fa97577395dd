"""Downstream channel providers behind one small protocol."""
