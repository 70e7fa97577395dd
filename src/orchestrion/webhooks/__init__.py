"""Status callbacks out: envelope, signing, delivery log."""
