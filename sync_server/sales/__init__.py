"""In-store sales recorded by tills: sales, returns, shifts and cash movements."""
