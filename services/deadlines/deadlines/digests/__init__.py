"""Daily digests by email: each agency head gets the appeals due within 3 working days, the
overdue ones and the unconfirmed ones of their body, and the state of its inbox (as the
watcher of deadlines.inboxes last saw it); monitoring gets the region's picture, with the
stalled inboxes. In Russian or Kazakh, by the recipient's setting; one per recipient per
working day, however many instances run.

    recipients.py  who gets which digest (a YAML file named by settings)
    db.py          the digest's figures, and the claim that makes sending idempotent
    letters.py     the message: subject, text and HTML parts, in the recipient's language
    mail.py        SMTP
    sender.py      when digests go out, and the loop that sends them
"""
