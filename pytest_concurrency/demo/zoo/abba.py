"""An ABBA deadlock: two transfers lock the same two accounts in opposite orders.

The fixed transfer always locks the account with the smaller id first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Account:
    def __init__(self, ident: int, balance: int) -> None:
        self.ident = ident
        self.balance = balance
        self.lock = threading.Lock()


def buggy_transfer(source: Account, target: Account, amount: int) -> None:
    with source.lock, target.lock:
        source.balance -= amount
        target.balance += amount


def fixed_transfer(source: Account, target: Account, amount: int) -> None:
    first, second = sorted((source, target), key=lambda account: account.ident)
    with first.lock, second.lock:
        source.balance -= amount
        target.balance += amount


def _crossed_transfers(transfer: Callable[[Account, Account, int], None]) -> None:
    a, b = Account(1, 100), Account(2, 100)
    threads = [
        threading.Thread(target=transfer, args=(a, b, 10)),
        threading.Thread(target=transfer, args=(b, a, 20)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (a.balance, b.balance) == (110, 90)


def buggy() -> None:
    _crossed_transfers(buggy_transfer)


def fixed() -> None:
    _crossed_transfers(fixed_transfer)
