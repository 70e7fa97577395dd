"""Renderings only the HTTP edge needs: operation status (with HTTP codes), sandbox inbox, delivery log."""
