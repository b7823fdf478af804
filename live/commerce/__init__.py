"""Selling: order terms, orders and their group-committed record, holds, payments, flash sales,
coupons, and the stock kept true across Redis loss."""
