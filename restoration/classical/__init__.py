"""Classical (weight-free) image algorithms used by the stages and by the offline engine."""
