#!/usr/bin/perl
# make_db.pl OUT.mmdb: a tiny MaxMind-format country database for tests
# (Debian's libmaxmind-db-writer-perl).  Documentation ranges only:
#   198.51.100.0/24 -> FR, 203.0.113.0/24 -> DE, 2001:db8::/32 -> JP;
#   192.0.2.0/24 is left out (an address the database does not know).
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift or die "usage: make_db.pl OUT.mmdb\n";
my %types = (country => 'map', iso_code => 'utf8_string');
my $tree = MaxMind::DB::Writer::Tree->new(
	ip_version            => 6,
	record_size           => 24,
	database_type         => 'nudge-test-Country',
	languages             => ['en'],
	description           => {en => 'nudge test database'},
	alias_ipv6_to_ipv4    => 1,
	# the test ranges are documentation ranges, which it drops by default
	remove_reserved_networks => 0,
	map_key_type_callback => sub { $types{$_[0]} },
);
$tree->insert_network('198.51.100.0/24', {country => {iso_code => 'FR'}});
$tree->insert_network('203.0.113.0/24', {country => {iso_code => 'DE'}});
$tree->insert_network('2001:db8::/32', {country => {iso_code => 'JP'}});
open(my $fh, '>:raw', $out) or die "$out: $!\n";
$tree->write_tree($fh);
close($fh) or die "$out: $!\n";
