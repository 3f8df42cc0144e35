"""Early warning (tidig varning): dip alerts and students at risk. Pure rules; see README.md."""
