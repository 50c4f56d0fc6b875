"""The Danish scenario data set: the fixed demo set (`demo`) and the synthetic generator
(`synthetic`), both built from the scenarios S1-S7 over organizations of all three sectors."""
