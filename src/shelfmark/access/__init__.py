"""Access: who may log in (staff users and patrons), with which role."""
