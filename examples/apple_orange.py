"""The book's apple-and-orange example: 2 apples at 100, 3 oranges at 150, 10% tax.

Expected: price 715; d(apple_num) = 110, d(apple) = 2.2, d(orange) = 3.3,
d(orange_num) = 165, d(tax) = 650.
"""
from chainrule.layers import AddLayer, MulLayer

apple, apple_num = 100, 2
orange, orange_num = 150, 3
tax = 1.1

mul_apple_layer = MulLayer()
mul_orange_layer = MulLayer()
add_apple_orange_layer = AddLayer()
mul_tax_layer = MulLayer()

# forward: price = (apple * apple_num + orange * orange_num) * tax
apple_price = mul_apple_layer.forward(apple, apple_num)
orange_price = mul_orange_layer.forward(orange, orange_num)
all_price = add_apple_orange_layer.forward(apple_price, orange_price)
price = mul_tax_layer.forward(all_price, tax)

# backward, in the reverse order of forward
dprice = 1
dall_price, dtax = mul_tax_layer.backward(dprice)
dapple_price, dorange_price = add_apple_orange_layer.backward(dall_price)
dorange, dorange_num = mul_orange_layer.backward(dorange_price)
dapple, dapple_num = mul_apple_layer.backward(dapple_price)

print(f"price: {price:g}")
print(f"dapple_num: {dapple_num:g}, dapple: {dapple:g}, dorange: {dorange:g}, "
      f"dorange_num: {dorange_num:g}, dtax: {dtax:g}")
