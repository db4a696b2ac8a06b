"""The book's apple example: 2 apples at 100 each with 10% tax, forward and backward.

Expected: price 220; d(apple) = 2.2, d(count) = 110, d(tax) = 200.
(The book prints 220.00000000000003 and 110.00000000000001: float rounding; shown with :g.)
"""
from chainrule.layers import MulLayer

apple, apple_num, tax = 100, 2, 1.1

mul_apple_layer = MulLayer()
mul_tax_layer = MulLayer()

# forward: price = (apple * apple_num) * tax
apple_price = mul_apple_layer.forward(apple, apple_num)
price = mul_tax_layer.forward(apple_price, tax)

# backward: start from d(price)/d(price) = 1 and walk the graph in reverse
dprice = 1
dapple_price, dtax = mul_tax_layer.backward(dprice)
dapple, dapple_num = mul_apple_layer.backward(dapple_price)

print(f"price: {price:g}")
print(f"dapple: {dapple:g}, dapple_num: {dapple_num:g}, dtax: {dtax:g}")
