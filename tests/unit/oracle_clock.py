"""A fixed clock for botocore's signers, shared by the SigV4 oracles
(sigv4_oracle.py, s3_sign_oracle.py): signatures depend on the time, so the
oracles sign "as of" the time the C test gives them."""
import datetime

import botocore.auth


class FixedClock:
    """Stands in for the datetime module inside botocore.auth."""

    def __init__(self, when):
        self._when = when

    def __getattr__(self, name):
        return getattr(datetime, name)

    @property
    def datetime(self):
        when = self._when

        class _DT(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return when

        return _DT


def freeze(epoch_seconds):
    """Makes botocore.auth sign as of epoch_seconds; returns that datetime."""
    when = datetime.datetime.utcfromtimestamp(epoch_seconds)
    botocore.auth.datetime = FixedClock(when)
    return when
