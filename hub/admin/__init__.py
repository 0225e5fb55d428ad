"""Operations: the admin dashboard (``/admin``) and the queries it shares with the
admin API (``hub/api/admin.py``) and ``/metrics``."""
