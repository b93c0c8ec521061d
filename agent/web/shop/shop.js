// The demo shop's own script: a cart in localStorage and the nudge calls a
// shop makes (add_to_cart, purchase).  Not part of the tag.
window.nudge = window.nudge || function () { (nudge.q = nudge.q || []).push(arguments); };
var shop = {
	cart: function () { try { return JSON.parse(localStorage.getItem('cart') || '[]'); } catch (e) { return []; } },
	save: function (c) { localStorage.setItem('cart', JSON.stringify(c)); },
	add: function (sku, price) {
		var c = shop.cart();
		c.push({sku: sku, price: price});
		shop.save(c);
		nudge('track', 'add_to_cart', {sku: sku, price: price, quantity: 1});
		var n = document.getElementById('cart-count');
		if (n) n.textContent = String(c.length);
	},
	total: function () { return shop.cart().reduce(function (s, i) { return s + i.price; }, 0); },
	buy: function () {
		nudge('track', 'purchase', {value: Math.round(shop.total() * 100) / 100});
		shop.save([]);
	}
};
document.addEventListener('DOMContentLoaded', function () {
	var n = document.getElementById('cart-count');
	if (n) n.textContent = String(shop.cart().length);
	var b = document.getElementById('add-to-cart');
	if (b) b.addEventListener('click', function () {
		shop.add(b.getAttribute('data-sku'), parseFloat(b.getAttribute('data-price')));
	});
});
