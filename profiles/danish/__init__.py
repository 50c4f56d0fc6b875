"""Danish rules that more than one part of the system needs: the validator's profiles, the
authorization layer and the demo data set all read them from here."""
