"""Planeringar: plan metadata per group, subject and term (title, criteria codes, published
date, link; never the content). The assessment service owns them: platforms already publish
their group's results here, and reporting counts a group × subject as planned from them."""
